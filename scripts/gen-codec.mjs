#!/usr/bin/env node
/**
 * Generates src/amqp/gen/methods.ts — the AMQP 0-9-1 method codec — from the
 * spec table RabbitMQ publishes with its own code generator
 * (../shared/spec/amqp-rabbitmq-0.9.1.json, beside the repository). The
 * <response> elements (which reply answers which synchronous method) are not in
 * the JSON; they are read from the XML spec next to it.
 *
 * Output is straight-line code, one decoder and one encoder per method (the
 * amqplib approach): no loop interpreting a field list at runtime, decoders that
 * build every object of a method with the same shape, encoders that size the
 * frame first and write it into one buffer.
 *
 * Run: `npm run gen` (plain Node, no dependencies). The output is checked in.
 */
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname } from "node:path";

const SPEC_JSON = new URL("../../shared/spec/amqp-rabbitmq-0.9.1.json", import.meta.url);
const SPEC_XML = new URL("../../shared/spec/amqp0-9-1.stripped.extended.xml", import.meta.url);
const OUT = new URL("../src/amqp/gen/methods.ts", import.meta.url);

const spec = JSON.parse(readFileSync(SPEC_JSON, "utf8"));
const domains = new Map(spec.domains);

// longstr fields carrying bytes (SASL responses/challenges, secrets): Buffer, not string.
const BINARY_LONGSTR = new Set(["connection.start-ok.response", "connection.secure.challenge", "connection.secure-ok.response", "connection.update-secret.new-secret"]);

const camel = (s) => s.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());
const pascal = (s) =>
  s
    .split(/[-.]/)
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join("");
const snake = (s) => s.replace(/[-.]/g, "_").toUpperCase();
const hex8 = (n) => "0x" + n.toString(16).padStart(8, "0");

/** class name -> method name -> [response method names], from the XML. */
function readResponses() {
  let xml;
  try {
    xml = readFileSync(SPEC_XML, "utf8");
  } catch {
    return new Map();
  }
  const out = new Map();
  let cls = null;
  let meth = null;
  for (const m of xml.matchAll(/<(class|method|response)\s+name="([^"]+)"/g)) {
    if (m[1] === "class") {
      cls = m[2];
      out.set(cls, new Map());
    } else if (m[1] === "method") {
      meth = m[2];
      out.get(cls).set(meth, []);
    } else out.get(cls).get(meth).push(m[2]);
  }
  return out;
}
const responses = readResponses();

// --------------------------------------------------------------------------
// Model

const classes = spec.classes.map((c) => ({
  name: c.name,
  id: c.id,
  methods: c.methods.map((m) => {
    const full = `${c.name}.${m.name}`;
    const fields = m.arguments.map((a) => {
      const type = a.type ?? domains.get(a.domain);
      if (!type) throw new Error(`no type for ${full}.${a.name}`);
      return {
        spec: a.name,
        name: camel(a.name),
        type,
        binary: type === "longstr" && BINARY_LONGSTR.has(`${full}.${a.name}`),
        def: a["default-value"],
      };
    });
    return {
      cls: c.name,
      classId: c.id,
      name: m.name,
      full,
      methodId: m.id,
      id: (c.id << 16) | m.id,
      constName: snake(full),
      typeName: pascal(full),
      fields,
      synchronous: !!m.synchronous,
      content: !!m.content,
    };
  }),
}));
const methods = classes.flatMap((c) => c.methods);
const byName = new Map(methods.map((m) => [m.full, m]));

function tsType(f) {
  switch (f.type) {
    case "octet":
    case "short":
    case "long":
    case "longlong":
    case "timestamp":
      return "number";
    case "bit":
      return "boolean";
    case "shortstr":
      return "string";
    case "longstr":
      return f.binary ? "Buffer" : "string";
    case "table":
      return "FieldTable";
    default:
      throw new Error(`unknown type ${f.type}`);
  }
}

function defaultExpr(f) {
  switch (f.type) {
    case "bit":
      return f.def === true ? "true" : "false";
    case "shortstr":
      return JSON.stringify(f.def ?? "");
    case "longstr":
      return f.binary ? "EMPTY_BYTES" : JSON.stringify(f.def ?? "");
    case "table":
      return "undefined";
    default:
      return String(f.def ?? 0);
  }
}

// --------------------------------------------------------------------------
// Decoder generation.
//
// Reads are grouped into segments: a run of fixed-size reads, possibly preceded
// by the variable-length bytes of a string whose length was read in the
// previous segment. One bounds check per segment, against `end`.

function genDecoder(m) {
  const L = [];
  const vars = [];
  let r = 0; // bytes read in this segment so far
  let segVar = null; // variable-length prefix of this segment (a local holding a length)
  let checkAt = -1; // index in L of this segment's check placeholder
  let bitVar = null;
  let bitIdx = 0;
  let bitCount = 0;
  let usesN = false;

  const openSegment = (varName) => {
    segVar = varName;
    r = 0;
    checkAt = L.length;
    L.push(null);
  };
  const closeSegment = () => {
    const need = segVar ? (r ? `${segVar} + ${r}` : segVar) : String(r);
    L[checkAt] = r === 0 && !segVar ? "" : `  if (o + ${need} > end) throw cannotDecode(${m.constName}, buf, off, end);`;
    if (r) L.push(`  o += ${r};`);
    r = 0;
  };
  const at = (k) => (k ? `o + ${k}` : "o");

  openSegment(null);
  for (const f of m.fields) {
    const v = `f_${f.name}`;
    vars.push([f.name, v]);
    if (f.type !== "bit") bitVar = null;
    switch (f.type) {
      case "bit": {
        if (!bitVar || bitIdx === 8) {
          bitVar = `bits${bitCount++}`;
          bitIdx = 0;
          L.push(`  const ${bitVar} = buf[${at(r)}]!;`);
          r += 1;
        }
        L.push(`  const ${v} = (${bitVar} & ${1 << bitIdx}) !== 0;`);
        bitIdx++;
        break;
      }
      case "octet":
        L.push(`  const ${v} = buf[${at(r)}]!;`);
        r += 1;
        break;
      case "short":
        L.push(`  const ${v} = (buf[${at(r)}]! << 8) | buf[${at(r + 1)}]!;`);
        r += 2;
        break;
      case "long":
        L.push(`  const ${v} = buf.readUInt32BE(${at(r)});`);
        r += 4;
        break;
      case "longlong":
      case "timestamp":
        // exact up to 2^53 (delivery tags, timestamps); beyond that rounds
        L.push(`  const ${v} = buf.readUInt32BE(${at(r)}) * 0x100000000 + buf.readUInt32BE(${at(r + 4)});`);
        r += 8;
        break;
      case "shortstr":
      case "longstr": {
        usesN = true;
        if (f.type === "shortstr") {
          L.push(`  n = buf[${at(r)}]!;`);
          r += 1;
        } else {
          L.push(`  n = buf.readUInt32BE(${at(r)});`);
          r += 4;
        }
        closeSegment();
        openSegment("n");
        if (f.binary) L.push(`  const ${v} = Buffer.from(buf.subarray(o, o + n));`);
        else if (f.type === "shortstr") L.push(`  const ${v} = shortstrAt(${m.constName}, buf, o, n);`);
        else L.push(`  const ${v} = buf.toString("utf8", o, o + n);`);
        L.push(`  o += n;`);
        break;
      }
      case "table": {
        closeSegment();
        L.push(`  const ${v} = tableAt(${m.constName}, buf, o, off, end);`);
        L.push(`  o = lastTableEnd;`);
        openSegment(null);
        break;
      }
      default:
        throw new Error(f.type);
    }
  }
  closeSegment();
  L.push(`  if (o !== end) throw cannotDecode(${m.constName}, buf, off, end);`);
  const body = L.filter((l) => l !== "" && l !== null);
  const obj = vars.length ? `{ ${vars.map(([k, v]) => `${k}: ${v}`).join(", ")} }` : "{}";
  const pre = [];
  if (m.fields.length) pre.push("  let o = off;");
  if (usesN) pre.push("  let n = 0;");
  if (!m.fields.length) {
    return `export function decode${m.typeName}(buf: Buffer, off: number, end: number): ${m.typeName} {
  if (off !== end) throw cannotDecode(${m.constName}, buf, off, end);
  return {};
}`;
  }
  return `export function decode${m.typeName}(buf: Buffer, off: number, end: number): ${m.typeName} {
${pre.join("\n")}
${body.join("\n")}
  return ${obj};
}`;
}

// --------------------------------------------------------------------------
// Encoder generation: size pass (string byte lengths, table sizes), one
// allocation, write pass.

function genEncoder(m) {
  let fixed = 7 + 4 + 1; // frame header, class+method ids, frame-end
  const sizeTerms = [];
  const pre = [];
  const W = [];
  let bitsOpen = false;
  let bitIdx = 0;
  let bitTerms = [];
  const flushBits = () => {
    if (!bitsOpen) return;
    W.push(`  buf[o] = ${bitTerms.join(" | ")};`);
    W.push(`  o += 1;`);
    fixed += 1;
    bitsOpen = false;
    bitTerms = [];
  };
  for (const f of m.fields) {
    const v = `a.${f.name}`;
    const local = `v_${f.name}`;
    const d = defaultExpr(f);
    if (f.type === "bit") {
      if (bitsOpen && bitIdx === 8) flushBits();
      if (!bitsOpen) {
        bitsOpen = true;
        bitIdx = 0;
      }
      bitTerms.push(`((${v} ?? ${d}) ? ${1 << bitIdx} : 0)`);
      bitIdx++;
      continue;
    }
    flushBits();
    switch (f.type) {
      case "octet":
        W.push(`  buf.writeUInt8(${v} ?? ${d}, o);`, `  o += 1;`);
        fixed += 1;
        break;
      case "short":
        W.push(`  buf.writeUInt16BE(${v} ?? ${d}, o);`, `  o += 2;`);
        fixed += 2;
        break;
      case "long":
        W.push(`  buf.writeUInt32BE(${v} ?? ${d}, o);`, `  o += 4;`);
        fixed += 4;
        break;
      case "longlong":
      case "timestamp":
        pre.push(`  const ${local} = ${v} ?? ${d};`);
        W.push(`  buf.writeUInt32BE(Math.floor(${local} / 0x100000000), o);`, `  buf.writeUInt32BE(${local} >>> 0, o + 4);`, `  o += 8;`);
        fixed += 8;
        break;
      case "shortstr":
        pre.push(`  const ${local} = ${v} ?? ${d};`, `  const ${local}Len = Buffer.byteLength(${local});`, `  if (${local}Len > 255) throw shortstrTooLong("${m.full}", "${f.spec}", ${local}Len);`);
        sizeTerms.push(`${local}Len`);
        W.push(`  buf[o] = ${local}Len;`, `  buf.write(${local}, o + 1, "utf8");`, `  o += 1 + ${local}Len;`);
        fixed += 1;
        break;
      case "longstr":
        pre.push(`  const ${local} = ${v} ?? ${d};`);
        if (f.binary) {
          pre.push(`  const ${local}Len = ${local}.length;`);
          W.push(`  buf.writeUInt32BE(${local}Len, o);`, `  ${local}.copy(buf, o + 4);`, `  o += 4 + ${local}Len;`);
        } else {
          pre.push(`  const ${local}Len = Buffer.byteLength(${local});`);
          W.push(`  buf.writeUInt32BE(${local}Len, o);`, `  buf.write(${local}, o + 4, "utf8");`, `  o += 4 + ${local}Len;`);
        }
        sizeTerms.push(`${local}Len`);
        fixed += 4;
        break;
      case "table":
        pre.push(`  const ${local} = ${v};`, `  const ${local}Size = encodedTableSize(${local});`);
        sizeTerms.push(`${local}Size`);
        W.push(`  o = writeTable(buf, o, ${local});`);
        break;
      default:
        throw new Error(f.type);
    }
  }
  flushBits();
  const sizeExpr = [String(fixed), ...sizeTerms].join(" + ");
  const aParam = m.fields.length ? "a" : "_a";
  return `export function encode${m.typeName}Frame(channel: number, ${aParam}: Partial<${m.typeName}> = {}): Buffer {
${pre.join("\n")}${pre.length ? "\n" : ""}  const size = ${sizeExpr};
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(${m.constName}, 7);
${m.fields.length ? "  let o = 11;\n" + W.join("\n") + "\n  buf[o] = 0xce;" : "  buf[11] = 0xce;"}
  return buf;
}`;
}

// --------------------------------------------------------------------------
// File assembly

const out = [];
out.push(`// generated — do not edit. Source: ../shared/spec/amqp-rabbitmq-0.9.1.json (+ <response> elements
// from amqp0-9-1.stripped.extended.xml) via scripts/gen-codec.mjs; regenerate with \`npm run gen\`.
/**
 * AMQP 0-9-1 method codec (RabbitMQ's protocol table, extensions included).
 *
 * Owns: method ids, argument interfaces, METHOD_INFO, and one straight-line
 * decoder and encoder per method. Does not own: frame reading (frames.ts),
 * field tables (field-table.ts), content properties (properties.ts).
 *
 * A method frame payload is: class-id (u16) | method-id (u16) | arguments.
 * Method ids here are \`classId << 16 | methodId\`. Arguments are concatenated
 * big-endian: octet (u8), short (u16), long (u32), longlong/timestamp (u64),
 * shortstr (u8 length + UTF-8), longstr (u32 length + bytes), table (u32 length
 * + entries). Consecutive bit arguments share octets, least significant bit
 * first, 8 per octet; any other argument ends the run.
 *
 * JS mapping: integers are numbers; longlong/timestamp are exact up to 2^53
 * (delivery tags and seconds-since-epoch never get near it); longstr is a
 * UTF-8 string, except SASL/secret bytes (start-ok.response, secure.challenge,
 * secure-ok.response, update-secret.new-secret) which are Buffers; shortstr
 * is decoded as UTF-8.
 *
 * Decoding: \`decodeX(buf, off, end)\` reads arguments from buf[off, end) and
 * requires them to end exactly at \`end\`. Any overrun, short or over-long
 * argument block or malformed table throws AmqpError FRAME_ERROR with
 * RabbitMQ's text "FRAME_ERROR - cannot decode <<bytes>>" and the method's
 * class/method id (RabbitMQ 3.10 answers exactly so, also for trailing bytes).
 * An unknown method id throws COMMAND_INVALID (RabbitMQ drops the socket).
 * Decoders always set every field, so each method's objects share one shape.
 *
 * Encoding: \`encodeXFrame(channel, args)\` returns a complete method frame
 * (type 1, channel, size, payload, 0xCE). Missing arguments take the spec's
 * default (0, "", false, empty table, or the spec's explicit default).
 */
import { isUtf8 } from "node:buffer";
import { AmqpError, COMMAND_INVALID, FRAME_ERROR, FrameLevelError } from "../errors.js";
import { type FieldTable, decodeTable, encodedTableSize, writeTable } from "../field-table.js";

// ---- class ids
`);
for (const c of classes) out.push(`export const CLASS_${snake(c.name)} = ${c.id};`);
out.push("\n// ---- method ids (classId << 16 | methodId)");
for (const m of methods) out.push(`export const ${m.constName} = ${hex8(m.id)}; // ${m.full}`);

out.push("\n// ---- argument interfaces");
for (const m of methods) {
  if (!m.fields.length) {
    out.push(`/** ${m.full} (no arguments) */\nexport interface ${m.typeName} {}`);
    continue;
  }
  out.push(`/** ${m.full} */\nexport interface ${m.typeName} {`);
  for (const f of m.fields) {
    const note = f.def !== undefined && f.type !== "table" ? ` // default ${JSON.stringify(f.def)}` : "";
    out.push(`  ${f.name}: ${tsType(f)};${note}`);
  }
  out.push("}");
}

out.push("\n/** Argument type by method id, for typed dispatch: MethodArgsMap[typeof BASIC_PUBLISH] is BasicPublish. */");
out.push("export interface MethodArgsMap {");
for (const m of methods) out.push(`  [${m.constName}]: ${m.typeName};`);
out.push("}");

out.push(`
export interface MethodInfo {
  /** "basic.publish" */
  readonly name: string;
  readonly classId: number;
  readonly methodId: number;
  /** followed by a content header and body frames */
  readonly content: boolean;
  /** expects a reply (the spec's synchronous="1") */
  readonly synchronous: boolean;
  /** ids of the methods that may answer it (empty when asynchronous or itself a reply) */
  readonly responses: readonly number[];
}

export const METHOD_INFO: ReadonlyMap<number, MethodInfo> = new Map<number, MethodInfo>([`);
for (const m of methods) {
  let resp = responses.get(m.cls)?.get(m.name) ?? [];
  // The stripped XML omits a few <response> elements (basic.recover, access.request): "-ok" by convention.
  if (m.synchronous && !resp.length && byName.has(`${m.full}-ok`)) resp = [`${m.name}-ok`];
  const ids = resp.map((r) => {
    const target = byName.get(`${m.cls}.${r}`);
    if (!target) throw new Error(`response ${r} of ${m.full} not in JSON`);
    return target.constName;
  });
  if (m.synchronous && !ids.length) console.warn(`warning: synchronous ${m.full} has no <response>`);
  out.push(`  [${m.constName}, { name: "${m.full}", classId: ${m.classId}, methodId: ${m.methodId}, content: ${m.content}, synchronous: ${m.synchronous}, responses: [${ids.join(", ")}] }],`);
}
out.push(`]);

/** "basic.publish" for BASIC_PUBLISH; "unknown(<class>,<method>)" otherwise. */
export function methodName(id: number): string {
  return METHOD_INFO.get(id)?.name ?? \`unknown(\${id >>> 16},\${id & 0xffff})\`;
}

// ---- shared helpers

const EMPTY_BYTES = Buffer.alloc(0);

/** RabbitMQ's reply for undecodable arguments: FRAME_ERROR - cannot decode <<b1,b2,...>> (text cut at 255 bytes). */
function cannotDecode(id: number, buf: Buffer, off: number, end: number): AmqpError {
  // 128 bytes already print past the 255-byte reply-text limit; no need to format more.
  const stop = Math.min(end, buf.length, off + 128);
  const bytes: number[] = [];
  for (let i = off; i < stop; i++) bytes.push(buf[i]!);
  return new AmqpError(FRAME_ERROR, \`cannot decode <<\${bytes.join(",")}>>\`, id >>> 16, id & 0xffff, true);
}

/**
 * A shortstr's text. Bytes that are not UTF-8 are refused as RabbitMQ refuses them, never
 * decoded lossily (distinct byte names would collapse into one U+FFFD name). ASCII, the
 * common case, is recognised by a byte loop; only other strings pay for isUtf8. (Erlang
 * also accepts encoded UTF-16 surrogates, ED A0 80; we refuse them: Node would decode
 * them to U+FFFD, and distinct names would collapse again.)
 */
function shortstrAt(_id: number, buf: Buffer, o: number, n: number): string {
  const stop = o + n;
  for (let i = o; i < stop; i++) {
    if (buf[i]! >= 0x80) {
      // RabbitMQ: connection.close 501 "Malformed UTF-8 in shortstr", class/method 0/0
      if (!isUtf8(buf.subarray(o, stop))) throw new FrameLevelError(FRAME_ERROR, "Malformed UTF-8 in shortstr");
      break;
    }
  }
  return buf.toString("utf8", o, stop);
}

let lastTableEnd = 0;

/** decodeTable bounded by the frame; its errors become the method's cannotDecode. Sets lastTableEnd. */
function tableAt(id: number, buf: Buffer, o: number, off: number, end: number): FieldTable {
  try {
    const r = decodeTable(buf, o, end);
    lastTableEnd = r.end;
    return r.table;
  } catch (e) {
    if (e instanceof AmqpError) throw cannotDecode(id, buf, off, end);
    throw e;
  }
}

function shortstrTooLong(method: string, field: string, len: number): RangeError {
  return new RangeError(\`\${method}: \${field} is \${len} bytes; a shortstr holds at most 255\`);
}

// ---- decoders`);
for (const m of methods) out.push(genDecoder(m) + "\n");

out.push(`/**
 * Decodes the arguments of method \`id\` from buf[off, end) (off is just after
 * the class-id and method-id). Throws AmqpError FRAME_ERROR on malformed
 * arguments, COMMAND_INVALID on an unknown id. The result is MethodArgsMap[id].
 */
export function decodeMethod(id: number, buf: Buffer, off: number, end: number): unknown {
  switch (id) {`);
for (const m of methods) out.push(`    case ${m.constName}:\n      return decode${m.typeName}(buf, off, end);`);
out.push(`    default:
      throw new AmqpError(COMMAND_INVALID, \`unknown method class \${id >>> 16} method \${id & 0xffff}\`, id >>> 16, id & 0xffff, true);
  }
}

// ---- encoders`);
for (const m of methods) out.push(genEncoder(m) + "\n");

out.push(`/** A complete method frame for method \`id\` on \`channel\`; missing arguments take spec defaults. */
export function encodeMethodFrame(channel: number, id: number, args: object): Buffer {
  switch (id) {`);
for (const m of methods) out.push(`    case ${m.constName}:\n      return encode${m.typeName}Frame(channel, args as Partial<${m.typeName}>);`);
out.push(`    default:
      throw new RangeError(\`encodeMethodFrame: unknown method id \${methodName(id)}\`);
  }
}

/** Typed front for encodeMethodFrame. */
export function encodeMethod<K extends keyof MethodArgsMap>(channel: number, id: K, args: Partial<MethodArgsMap[K]>): Buffer {
  return encodeMethodFrame(channel, id, args);
}
`);

// --out FILE writes elsewhere (the lint step regenerates into a temp dir and compares byte for byte)
const outFlag = process.argv.indexOf("--out");
const outPath = outFlag > 0 && process.argv[outFlag + 1] ? process.argv[outFlag + 1] : fileURLToPath(OUT);
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(outPath, out.join("\n"));
console.log(`wrote ${outPath}: ${methods.length} methods`);
