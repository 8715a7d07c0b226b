import { execFileSync } from 'node:child_process';

/**
 * Linux network namespaces joined by veth pairs (needs root and `ip`): isolated hosts on one machine.
 * Only addresses the test creates (10.231.x.x) are used; everything is removed by `remove()`.
 */
export class Namespaces {
  readonly #names: string[] = [];
  readonly #tag = String(process.pid % 100_000);

  /** Whether namespaces can be made here (tries one and removes it). */
  static available(): { ok: true } | { ok: false; reason: string } {
    const probe = `nmprobe${process.pid % 100_000}`;
    try {
      execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
      execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
      return { ok: true };
    } catch (error) {
      return { ok: false, reason: (error as Error).message.split('\n')[0] ?? 'ip netns add failed' };
    }
  }

  /** A new namespace with its loopback up; returns its full name. */
  add(short: string): string {
    const name = `nm${short}${this.#tag}`;
    ip('netns', 'add', name);
    this.#names.push(name);
    ip('-n', name, 'link', 'set', 'lo', 'up');
    return name;
  }

  /** A veth pair between two namespaces with an address at each end (a /24 of its own). */
  link(a: string, aAddress: string, b: string, bAddress: string, short: string): void {
    const left = `va${short}${this.#tag}`.slice(0, 15);
    const right = `vb${short}${this.#tag}`.slice(0, 15);
    ip('link', 'add', left, 'type', 'veth', 'peer', 'name', right);
    ip('link', 'set', left, 'netns', a);
    ip('link', 'set', right, 'netns', b);
    ip('-n', a, 'addr', 'add', `${aAddress}/24`, 'dev', left);
    ip('-n', b, 'addr', 'add', `${bAddress}/24`, 'dev', right);
    ip('-n', a, 'link', 'set', left, 'up');
    ip('-n', b, 'link', 'set', right, 'up');
  }

  remove(): void {
    for (const name of this.#names.splice(0)) {
      try {
        ip('netns', 'del', name);
      } catch {
        // Already gone.
      }
    }
  }
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}
