import schema from "../../gen/schema.json" with { type: "json" };

export function printSchema(): void {
  process.stdout.write(`${JSON.stringify(schema, null, 2)}\n`);
}
