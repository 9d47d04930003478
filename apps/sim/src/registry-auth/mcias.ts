// The two MCIAS calls the token service makes, over HTTPS with the sim's CA.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export interface MciasPeer {
  url: string;
  /** PEM of the CA that signed MCIAS's certificate. */
  ca?: string;
}

const TIMEOUT_MS = 5_000;

function post(
  peer: MciasPeer,
  path: string,
  body: unknown,
  bearer?: string,
): Promise<{ status: number; json: Record<string, unknown> | undefined }> {
  const url = new URL(path, peer.url);
  const data = JSON.stringify(body);
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(data),
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        },
        ...(peer.ca ? { ca: peer.ca } : {}),
        timeout: TIMEOUT_MS,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          text += d;
        });
        res.on("end", () => {
          let json: Record<string, unknown> | undefined;
          try {
            const v = JSON.parse(text) as unknown;
            if (typeof v === "object" && v !== null) json = v as Record<string, unknown>;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`MCIAS did not answer within ${TIMEOUT_MS} ms`)));
    req.on("error", reject);
    req.end(data);
  });
}

export interface Identity {
  username: string;
  roles: string[];
}

/** The identity behind an MCIAS token, or undefined when MCIAS says it is not valid. */
export async function validateToken(
  peer: MciasPeer,
  token: string,
  serviceName: string,
): Promise<Identity | undefined> {
  if (!/^[\x21-\x7e]+$/.test(token)) return undefined;
  const { status, json } = await post(
    peer,
    "/v1/token/validate",
    { service_name: serviceName },
    token,
  );
  if (status !== 200 || json?.valid !== true || typeof json.username !== "string") return undefined;
  const roles = Array.isArray(json.roles)
    ? json.roles.filter((r): r is string => typeof r === "string")
    : [];
  return { username: json.username, roles };
}

/** Logs in; the MCIAS token on success, undefined when MCIAS refuses the credentials. */
export async function login(
  peer: MciasPeer,
  username: string,
  password: string,
): Promise<string | undefined> {
  const { status, json } = await post(peer, "/v1/auth/login", { username, password });
  if (status !== 200 || typeof json?.token !== "string") return undefined;
  return json.token;
}
