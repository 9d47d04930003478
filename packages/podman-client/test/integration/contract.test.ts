import { runtimeContract } from "../contract.ts";
import { ensureImage, freePort, harness } from "./harness.ts";

runtimeContract("rootless Podman", async () => {
  const h = await harness();
  const image = await ensureImage(h);
  return {
    runtime: h.client,
    image,
    name: h.name,
    labels: h.labels,
    freePort,
    cmdPrinting: (lines) => [
      "sh",
      "-c",
      `${lines.map((l) => `echo ${l}`).join("; ")}; exec sleep 600`,
    ],
    cleanup: h.cleanup,
  };
});
