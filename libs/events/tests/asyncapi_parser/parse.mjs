// Parses an AsyncAPI document with the official parser; prints its diagnostics as JSON:
// {"errors": [...], "warnings": [...], "document": true|false}. Exit 0 unless it crashed.
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const path = process.argv[2];
const source = readFileSync(path, "utf8");
const parser = new Parser();
const { document, diagnostics } = await parser.parse(source, { source: path });
// spectral severities: 0 error, 1 warning, 2 information, 3 hint
const plain = (d) => ({ code: d.code, message: d.message, path: d.path, severity: d.severity });
console.log(
  JSON.stringify({
    document: document !== undefined,
    errors: diagnostics.filter((d) => d.severity === 0).map(plain),
    warnings: diagnostics.filter((d) => d.severity === 1).map(plain),
  }),
);
