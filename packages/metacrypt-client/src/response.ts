import type { IssuedCertificate } from "./client.ts";
import { MetacryptBadResponseError } from "./errors.ts";

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Checks the shape of an issue answer at run time. `ca_chain` is accepted as an array of
 * PEMs or as one string of concatenated PEMs, since the contract only says "PEM strings".
 */
export function parseIssueResponse(json: unknown, status?: number): IssuedCertificate {
  const bad = (field: string, why: string) =>
    new MetacryptBadResponseError(field, `metacrypt issue: response field ${field} ${why}`, {
      status,
    });
  if (!isObject(json)) throw bad("(body)", "is not a JSON object");
  const data = json.data;
  if (!isObject(data)) throw bad("data", "is missing or not an object");
  const pemString = (key: string, marker: string): string => {
    const v = data[key];
    if (typeof v !== "string" || v.trim() === "")
      throw bad(`data.${key}`, "is missing or not a string");
    if (!v.includes(`-----BEGIN ${marker}`))
      throw bad(`data.${key}`, `is not a PEM ${marker.toLowerCase()}`);
    return v;
  };
  const certificate = pemString("certificate", "CERTIFICATE");
  const privateKey = pemString("private_key", "");
  let caChain: string[];
  const chain = data.ca_chain;
  if (Array.isArray(chain)) {
    caChain = chain.map((c, i) => {
      if (typeof c !== "string" || !c.includes("-----BEGIN CERTIFICATE")) {
        throw bad(`data.ca_chain[${i}]`, "is not a PEM certificate");
      }
      return c;
    });
  } else if (typeof chain === "string") {
    caChain = chain.match(PEM_CERT) ?? [];
    if (caChain.length === 0 && chain.trim() !== "")
      throw bad("data.ca_chain", "holds no PEM certificate");
  } else {
    throw bad("data.ca_chain", "is missing or neither a string nor an array");
  }
  const serial = data.serial;
  if (typeof serial !== "string" || serial === "")
    throw bad("data.serial", "is missing or not a string");
  const exp = data.expires_at;
  if (typeof exp !== "string") throw bad("data.expires_at", "is missing or not a string");
  const expiresAt = new Date(exp);
  if (Number.isNaN(expiresAt.getTime())) throw bad("data.expires_at", "is not a date");
  return { certificate, privateKey, caChain, serial, expiresAt };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
