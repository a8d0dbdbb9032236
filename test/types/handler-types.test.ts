// Type tests: the fixtures compile with the TypeScript compiler the project
// uses, and their `@ts-expect-error` lines are errors (an unused directive
// is an error itself), so both what should and what shouldn't type-check
// is checked.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function diagnosticsOf(file: string): string[] {
  const configPath = join(root, "tsconfig.json");
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  const program = ts.createProgram([file], { ...parsed.options, noEmit: true });
  return ts
    .getPreEmitDiagnostics(program)
    .map(
      (d) => `${d.file?.fileName ?? ""}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`,
    );
}

describe("public types", () => {
  it("a handler needs no casts: typed data, request, decoded messages", () => {
    const errors = diagnosticsOf(join(root, "test", "types", "fixtures", "handler-types.ts"));
    assert.deepEqual(errors, []);
  });
});
