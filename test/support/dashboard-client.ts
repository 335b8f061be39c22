/**
 * A person's browser, reduced to what the dashboard's HTTP tests need: cookies kept between
 * requests, forms posted with the page's CSRF token and the browser's `Origin`, redirects not
 * followed (so each 303 is seen). `send` is any fetch: the dashboard's own handler, a Worker in
 * Miniflare, a server's URL.
 */

export type Send = (request: Request) => Promise<Response>;

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

export const ADMIN_TOKEN = 'dashboard-test-admin-token-0123456789abcdef';

export class DashboardClient {
  readonly cookies = new Map<string, string>();
  constructor(
    private readonly send: Send,
    readonly origin = 'http://dashboard.test',
  ) {}

  private keep(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(
    path: string,
    init: {
      method?: string;
      form?: Record<string, string | string[]>;
      headers?: Record<string, string>;
    } = {},
  ): Promise<Answer> {
    const headers = new Headers({ host: new URL(this.origin).host, ...init.headers });
    if (this.cookies.size > 0 && !headers.has('cookie')) headers.set('cookie', this.cookieHeader());
    let body: string | undefined;
    if (init.form) {
      const params = new URLSearchParams();
      for (const [name, value] of Object.entries(init.form))
        for (const v of Array.isArray(value) ? value : [value]) params.append(name, v);
      body = params.toString();
      if (!headers.has('content-type'))
        headers.set('content-type', 'application/x-www-form-urlencoded');
    }
    const response = await this.send(
      new Request(`${this.origin}${path}`, {
        method: init.method ?? (init.form ? 'POST' : 'GET'),
        headers,
        body,
        redirect: 'manual',
      }),
    );
    this.keep(response);
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  get(path: string, headers: Record<string, string> = {}) {
    return this.request(path, { headers });
  }

  /** A form posted as the browser posts it from one of the dashboard's pages. */
  post(
    path: string,
    form: Record<string, string | string[]>,
    headers: Record<string, string> = {},
  ) {
    return this.request(path, {
      form,
      headers: { origin: this.origin, 'sec-fetch-site': 'same-origin', ...headers },
    });
  }

  /** Signs in through the login form at `base`. */
  async signIn(base: string, token = ADMIN_TOKEN): Promise<Answer> {
    const page = await this.get(`${base}/login`);
    return this.post(`${base}/login`, { _csrf: csrfOf(page.text), token, next: `${base}/` });
  }
}

/** The CSRF token a page's forms carry. */
export function csrfOf(html: string): string {
  const match = /name="_csrf" value="([^"]*)"/.exec(html);
  if (!match) throw new Error(`no CSRF token in the page:\n${html.slice(0, 500)}`);
  return match[1] as string;
}

/** The page's text without tags, whitespace collapsed: what a person reads. */
export function textOf(html: string): string {
  return html
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/g, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}
