/**
 * The docs hold together: every relative link of README.md, docs/ and schema/*.md names a file or
 * folder that exists and, with a `#fragment`, a heading of that file (as GitHub makes anchors:
 * github-slugger); the README stays a short front page.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import GithubSlugger from 'github-slugger';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function markdownFiles(): string[] {
  const inDir = (dir: string) => fs.readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith('.md')).map((f) => `${dir}/${f}`);
  return ['README.md', ...inDir('docs'), ...inDir('schema')];
}

/** The anchors GitHub gives the headings of a Markdown text (code blocks left out). */
function anchorsOf(text: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = !fenced && /^#{1,6} (.+)$/.exec(line);
    if (m) anchors.add(slugger.slug(m[1]!.replace(/`/g, '')));
  }
  return anchors;
}

/** Relative links `[text](target)` outside code blocks and code spans. */
function linksOf(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z]+:/.test(t));
}

describe('docs', () => {
  it('every relative link resolves to a file and, with a fragment, to one of its headings', () => {
    const broken: string[] = [];
    for (const file of markdownFiles()) {
      const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
      for (const link of linksOf(text)) {
        const [target, fragment] = link.split('#') as [string, string | undefined];
        const resolved = target === '' ? file : path.normalize(path.join(path.dirname(file), target));
        if (!fs.existsSync(path.join(ROOT, resolved))) {
          broken.push(`${file}: ${link} (no ${resolved})`);
          continue;
        }
        if (fragment !== undefined && resolved.endsWith('.md') && !anchorsOf(fs.readFileSync(path.join(ROOT, resolved), 'utf8')).has(fragment)) {
          broken.push(`${file}: ${link} (no heading #${fragment} in ${resolved})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('the check finds a link to a missing file and to a missing heading', () => {
    expect(linksOf('see [a](docs/api.md#x) and `[b](c.md)` and [w](https://example.com)')).toEqual(['docs/api.md#x']);
    expect(anchorsOf('# One\n```\n# not a heading\n```\n## Two `code`')).toEqual(new Set(['one', 'two-code']));
  });

  it('README.md is a front page of at most 15 KB, with the two quick-start commands', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(15 * 1024);
    expect(readme).toContain('npm ci && npm run demo');
    expect(readme).toContain('npm test');
  });
});
