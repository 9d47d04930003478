export {
  BUSYBOX_PATH,
  CONTAINERFILE,
  ensureTestImage,
  TEST_IMAGE,
  TEST_IMAGE_REPO,
  writeTestImageContext,
} from "./image.ts";
export {
  freePort,
  type PodmanHarness,
  type PodmanHarnessOptions,
  podmanClientFor,
  podmanUser,
  RUN_LABEL,
  setupPodman,
} from "./podman.ts";
export {
  REGISTRY_BINARY,
  type RegistryOptions,
  type RegistryTokenAuth,
  startRegistry,
  type TestRegistry,
} from "./registry.ts";
export { SSHD, type SshdTarget, startSshd, type TestSshd } from "./sshd.ts";
