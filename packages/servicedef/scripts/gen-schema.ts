// Writes gen/schema.json from src/schema/source.ts. Run by `pnpm build` before tsup.
import { writeFileSync } from "node:fs";
import { jsonSchema } from "../src/schema/source.ts";

const out = new URL("../gen/schema.json", import.meta.url);
writeFileSync(out, `${JSON.stringify(jsonSchema(), null, 2)}\n`);
