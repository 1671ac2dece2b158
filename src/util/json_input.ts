// Reading a JSON input a user hands the CLI (results.json, tune.json, probe.json, a profile):
// one line for the first thing wrong, naming where it is, never a stack trace. The readers
// differ only in their schema and in what they call the input.

import { z } from 'zod';
import { formatPath } from './format_path.js';

/** JSON.parse with the error as `<where>: not JSON (<why>)`. */
export function parseJsonText(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new RangeError(`${where}: not JSON (${(e as Error).message})`);
  }
}

/** Validates parsed data; the error is `<where>: <field>: <what is wrong>` for the first field that does not fit. */
export function validateJson<S extends z.ZodType>(schema: S, data: unknown, where: string): z.infer<S> {
  const r = schema.safeParse(data);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new RangeError(`${where}: ${formatPath(i.path)}: ${i.message}`);
  }
  return r.data;
}

/** parseJsonText, then validateJson. */
export function parseJsonWith<S extends z.ZodType>(schema: S, text: string, where: string): z.infer<S> {
  return validateJson(schema, parseJsonText(text, where), where);
}

/** The JSON Schema (draft 2020-12) of a file daxlab writes, with its id under schema/ and a title. */
export function jsonSchemaOf(schema: z.ZodType, file: string, title: string): object {
  return { $id: `https://daxlab.dev/schema/${file}`, title, ...z.toJSONSchema(schema) };
}
