#!/usr/bin/env node
// check.mjs: an independent check of Passerelle's canonical JSON Schemas with ajv.
//
// It loads every schemas/*.json into one Ajv2020 instance (draft 2020-12, strict mode,
// allErrors, formats asserted by ajv-formats in "full" mode, so that `format: date`
// refuses 2024-02-31), compiles every schema and every entry of every `$defs`, then
// validates every example under schemas/examples/<name>/{valid,invalid}/*.json against
// the schema of its folder, and prints one JSON line per example on stdout:
//
//   {"file":"schemas/examples/judgment/valid/x.json","valid":true,"errors":[]}
//
// `file` is relative to the repository root; `errors` lists ajv's errors, each with the
// JSON pointer of the offending value (for `required`, `additionalProperties` and
// `unevaluatedProperties` the pointer names the missing or extra property, as the
// *.expect.json files do), the keyword and ajv's message.
//
// It judges nothing about the folders: schemas/ajv_test.go compares these verdicts with
// the Go validator's and with the folder each example sits in.
//
// The schema of an example folder is chosen as the Go registry's Lookup does: a folder
// named with its version ("judgment.v2") takes schemas/judgment.v2.json; a folder named
// without ("judgment") takes the newest major version, schemas/judgment.v<highest>.json.
//
// Usage: node tools/ajv/check.mjs [SCHEMAS_DIR]   (default: <repo>/schemas)
// Exit status: 0 when every schema compiled (whatever the examples' verdicts),
// 2 when a schema does not load or compile (strict mode included), 1 on any other error.

import { readFileSync, readdirSync, existsSync, statSync } from "node:fs";
import { join, relative, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "..", "..");
const schemasDir = resolve(process.argv[2] ?? join(repoRoot, "schemas"));
// Paths are printed relative to the repository root when the schemas live inside it,
// else relative to the schemas folder's parent (fixtures in a temporary folder).
const printRoot = schemasDir.startsWith(repoRoot + "/") ? repoRoot : dirname(schemasDir);

function fail(status, message) {
  process.stderr.write(`ajv check: ${message}\n`);
  process.exit(status);
}

function readJSON(path) {
  return JSON.parse(readFileSync(path, "utf8"));
}

function escapePointerToken(token) {
  return String(token).replaceAll("~", "~0").replaceAll("/", "~1");
}

// pointerOf gives the JSON pointer an error is about, naming the property for the
// keywords whose instancePath is the parent object.
function pointerOf(err) {
  const p = err.params ?? {};
  switch (err.keyword) {
    case "required":
    case "dependentRequired":
      return `${err.instancePath}/${escapePointerToken(p.missingProperty)}`;
    case "additionalProperties":
      return `${err.instancePath}/${escapePointerToken(p.additionalProperty)}`;
    case "unevaluatedProperties":
      return `${err.instancePath}/${escapePointerToken(p.unevaluatedProperty)}`;
    default:
      return err.instancePath;
  }
}

function listJSON(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort();
}

// Load every schema into one instance, so that cross-file $refs resolve by $id.
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv, { mode: "full" });

if (!existsSync(schemasDir) || !statSync(schemasDir).isDirectory()) {
  fail(1, `${schemasDir} is not a folder`);
}
const schemaFiles = listJSON(schemasDir);
if (schemaFiles.length === 0) fail(2, `no schema (*.json) in ${schemasDir}`);

const idByFile = new Map();
for (const file of schemaFiles) {
  let schema;
  try {
    schema = readJSON(join(schemasDir, file));
  } catch (e) {
    fail(2, `schemas/${file}: not JSON: ${e.message}`);
  }
  if (typeof schema.$id !== "string" || schema.$id === "") {
    fail(2, `schemas/${file}: no $id`);
  }
  try {
    ajv.addSchema(schema);
  } catch (e) {
    fail(2, `schemas/${file}: rejected by ajv (meta-schema or duplicate $id): ${e.message}`);
  }
  idByFile.set(file, { id: schema.$id, defs: Object.keys(schema.$defs ?? {}), uses: referencedIds(schema) });
}

// referencedIds lists the other documents a schema's $refs point to (by $id).
function referencedIds(value, out = new Set()) {
  if (Array.isArray(value)) {
    for (const v of value) referencedIds(v, out);
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k === "$ref" && typeof v === "string" && !v.startsWith("#")) out.add(v.split("#")[0]);
      else referencedIds(v, out);
    }
  }
  return out;
}

// dependenciesFirst orders the files so that a file comes after the files it refers
// to (common, then envelope, then the types); a cycle keeps the alphabetical order.
function dependenciesFirst() {
  const fileById = new Map([...idByFile].map(([file, { id }]) => [id, file]));
  const done = new Set();
  const order = [];
  while (order.length < idByFile.size) {
    const ready = [...idByFile.keys()].filter(
      (f) => !done.has(f) && [...idByFile.get(f).uses].every((id) => !fileById.has(id) || fileById.get(id) === f || done.has(fileById.get(id))),
    );
    const next = ready.length > 0 ? ready : [...idByFile.keys()].filter((f) => !done.has(f)).slice(0, 1);
    for (const f of next) {
      done.add(f);
      order.push(f);
    }
  }
  return order;
}

// Compile every $defs entry of every file, then every schema, in strict mode: a
// definition that no type uses yet must compile too, or it would break the day one
// does; and a defect in a shared definition is reported at that definition rather than
// at the first type that uses it.
function compile(file, ref) {
  let validate;
  try {
    validate = ajv.getSchema(ref);
  } catch (e) {
    fail(2, `schemas/${file}: ${ref} does not compile in ajv strict mode: ${e.message}`);
  }
  if (typeof validate !== "function") fail(2, `schemas/${file}: ${ref} not found`);
  return validate;
}
for (const file of dependenciesFirst()) {
  const { id, defs } = idByFile.get(file);
  for (const d of defs) compile(file, `${id}#/$defs/${escapePointerToken(d)}`);
}
const validators = new Map();
for (const [file, { id }] of idByFile) validators.set(file, compile(file, id));

// schemaFileOf names the schema file of an example folder (see the header).
function schemaFileOf(folder) {
  if (/\.v[0-9]+$/.test(folder)) return `${folder}.json`;
  let best = null;
  let bestVersion = -1;
  for (const file of idByFile.keys()) {
    const m = file.match(/^(.+)\.v([0-9]+)\.json$/);
    if (m && m[1] === folder && Number(m[2]) > bestVersion) {
      best = file;
      bestVersion = Number(m[2]);
    }
  }
  return best ?? `${folder}.v1.json`;
}

// verdictOf validates one example file: {valid, errors}.
function verdictOf(validate, schemaFile, folder, path) {
  if (!validate) {
    return { valid: false, errors: [{ pointer: "", keyword: "$schema", message: `no schema ${schemaFile} for folder ${folder}` }] };
  }
  let doc;
  try {
    doc = readJSON(path);
  } catch (e) {
    return { valid: false, errors: [{ pointer: "", keyword: "json", message: `not JSON: ${e.message}` }] };
  }
  if (validate(doc) === true) return { valid: true, errors: [] };
  const errors = (validate.errors ?? []).map((e) => ({ pointer: pointerOf(e), keyword: e.keyword, message: e.message ?? "" }));
  return { valid: false, errors };
}

// Validate every example against the schema of its folder.
const examplesDir = join(schemasDir, "examples");
const counts = { valid: 0, invalid: 0 };
const folders = existsSync(examplesDir)
  ? readdirSync(examplesDir).filter((d) => statSync(join(examplesDir, d)).isDirectory()).sort()
  : [];
for (const folder of folders) {
  const schemaFile = schemaFileOf(folder);
  const validate = validators.get(schemaFile);
  for (const kind of ["valid", "invalid"]) {
    const dir = join(examplesDir, folder, kind);
    for (const name of listJSON(dir).filter((f) => !f.endsWith(".expect.json"))) {
      const path = join(dir, name);
      const file = relative(printRoot, path);
      const line = { file, ...verdictOf(validate, schemaFile, folder, path) };
      counts[line.valid ? "valid" : "invalid"]++;
      process.stdout.write(JSON.stringify(line) + "\n");
    }
  }
}

process.stderr.write(
  `ajv check: ${idByFile.size} schemas compiled (strict); ${counts.valid + counts.invalid} examples: ${counts.valid} accepted, ${counts.invalid} refused\n`,
);
