// Calls to Headwater's API from the explorer. A token, once entered, lives in this tab's
// sessionStorage and goes with every call as `Authorization: Bearer`; a 401 asks for one
// (once for all the calls waiting on it) and retries.

const TOKEN_KEY = "headwater.token";

/** A failed call: the status, and the problem document when the server sent one. */
export class ApiError extends Error {
  constructor(status, problem, url) {
    super(problem?.detail || `${url.pathname} answered ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

let askToken = async () => null;
let pendingAsk = null;

/** Sets how a token is asked for: `ask(reason)` resolves to the token, or null if refused. */
export function onTokenNeeded(ask) {
  askToken = ask;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function askOnce(reason) {
  pendingAsk ??= askToken(reason).finally(() => {
    pendingAsk = null;
  });
  return pendingAsk;
}

/** An URL on this server with the given query parameters (empty ones left out). */
export function apiUrl(path, params = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  return url;
}

/** GETs `path`; resolves to the response, or throws an ApiError. */
export async function get(path, params = {}, accept = "application/json") {
  const url = apiUrl(path, params);
  for (let attempt = 0; ; attempt += 1) {
    const headers = { Accept: accept };
    const saved = token();
    if (saved) headers.Authorization = `Bearer ${saved}`;
    const response = await fetch(url, { headers });
    if (response.ok) return response;
    const problem = await response.json().catch(() => null);
    if (response.status === 401 && attempt < 3) {
      const reason = saved ? "The token was refused." : problem?.detail || "The API asks for a token.";
      const entered = await askOnce(reason);
      if (entered) {
        sessionStorage.setItem(TOKEN_KEY, entered);
        continue;
      }
    }
    throw new ApiError(response.status, problem, url);
  }
}

export async function getJson(path, params) {
  return (await get(path, params)).json();
}
