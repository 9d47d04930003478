// Pure parsers for the two headers the distribution API steers clients with:
// `WWW-Authenticate` (RFC 7235 challenges) and `Link` (RFC 8288, tag-list pagination).

export interface AuthChallenge {
  /** Lower-cased scheme: `bearer`, `basic`, … */
  scheme: string;
  /** Parameter names lower-cased; values unquoted. */
  params: Record<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

/**
 * Parses a `WWW-Authenticate` value into its challenges. Returns undefined when the text
 * does not follow the grammar (an unterminated quote, a parameter without a value), so the
 * caller can report a garbage challenge instead of acting on half of it.
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] | undefined {
  const out: AuthChallenge[] = [];
  let i = 0;
  const n = header.length;
  const skipWs = () => {
    while (i < n && (header[i] === " " || header[i] === "\t")) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && TOKEN_CHAR.test(header[i] as string)) i++;
    return header.slice(start, i);
  };
  let current: AuthChallenge | undefined;
  for (;;) {
    skipWs();
    while (i < n && header[i] === ",") {
      i++;
      skipWs();
    }
    if (i >= n) break;
    const word = readToken();
    if (word === "") return undefined;
    skipWs();
    if (header[i] === "=") {
      // A parameter of the current challenge (token68 values are not used by registries).
      if (!current) return undefined;
      i++;
      skipWs();
      let value: string;
      if (header[i] === '"') {
        i++;
        value = "";
        for (;;) {
          if (i >= n) return undefined;
          const c = header[i] as string;
          if (c === "\\") {
            if (i + 1 >= n) return undefined;
            value += header[i + 1];
            i += 2;
          } else if (c === '"') {
            i++;
            break;
          } else {
            value += c;
            i++;
          }
        }
      } else {
        value = readToken();
        if (value === "") return undefined;
      }
      current.params[word.toLowerCase()] = value;
      skipWs();
      if (i < n && header[i] !== ",") return undefined;
    } else {
      current = { scheme: word.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out.length > 0 ? out : undefined;
}

/** The URL of `rel="next"` in a `Link` header, resolved against `base`; undefined if none. */
export function parseLinkNext(header: string | undefined, base: URL): URL | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!m) continue;
    const rels = /;\s*rel\s*=\s*"?([^";]+)"?/i.exec(m[2] as string);
    if (!rels) continue;
    if ((rels[1] as string).toLowerCase().split(/\s+/).includes("next")) {
      try {
        return new URL(m[1] as string, base);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** `repository:<name>:<actions>`, the scope of the distribution token spec. */
export function repositoryScope(repository: string, actions: readonly string[]): string {
  return `repository:${repository}:${actions.join(",")}`;
}
