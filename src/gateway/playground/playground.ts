// The playground page (playground.html), read once: the gateway serves it at GET /.
import { readFileSync } from 'node:fs';

let html: string | null = null;
export function playgroundHtml(): string {
  html ??= readFileSync(new URL('./playground.html', import.meta.url), 'utf8');
  return html;
}
