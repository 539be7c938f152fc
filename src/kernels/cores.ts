/**
 * How many cores this Node process may use: the CPUs its affinity allows (os.availableParallelism) capped by its
 * cgroup's CPU quota, as a container's `--cpus` sets it. Node 20's libuv ignores the quota (libuv 1.49 reads it),
 * and a pool sized for a 64-core host in a 2-CPU container spends its time descheduled. Node only.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Reads a file's text, or null where it is missing or unreadable. */
type ReadText = (path: string) => string | null;

const readText: ReadText = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
};

/** One line of /proc/self/mountinfo: the mounted root of the filesystem, where it is mounted, its type and options. */
interface Mount { root: string; point: string; type: string; options: string[] }

function mounts(text: string): Mount[] {
  return text.split('\n').flatMap((line) => {
    const [left, right] = line.split(' - ');
    if (!right) return [];
    const f = left.split(' '), g = right.split(' ');
    return f.length >= 5 && g.length >= 3 ? [{ root: f[3], point: f[4], type: g[0], options: g[2].split(',') }] : [];
  });
}

/** The cgroup directory of `path` (from /proc/self/cgroup) under `m` and its ancestors up to the mount point. */
function dirs(m: Mount, path: string): string[] {
  const rel = m.root !== '/' && (path === m.root || path.startsWith(m.root + '/')) ? path.slice(m.root.length) : path;
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  const point = m.point.replace(/\/$/, '');
  return parts.map((_, i) => `${point}/${parts.slice(0, parts.length - i).join('/')}`).concat(point || '/');
}

/**
 * The CPUs the cgroup quota of this process allows (quota ÷ period, the smallest over its cgroup and their
 * ancestors, rounded down, at least 1), or null where none is set or none can be read: cgroup v2's cpu.max and
 * v1's cpu.cfs_quota_us / cpu.cfs_period_us. `read` reads a file (tests pass a table of them).
 */
export function cgroupCpuLimit(read: ReadText = readText): number | null {
  const cgroups = read('/proc/self/cgroup'), info = read('/proc/self/mountinfo');
  if (cgroups === null || info === null) return null;
  const ms = mounts(info);
  let best = Infinity;
  const consider = (quota: number, period: number) => {
    if (Number.isFinite(quota) && Number.isFinite(period) && quota > 0 && period > 0) best = Math.min(best, quota / period);
  };
  for (const line of cgroups.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, controllers, path] = m;
    if (controllers === '') {
      const v2 = ms.find((x) => x.type === 'cgroup2');
      for (const d of v2 ? dirs(v2, path) : []) {
        const [q, p] = (read(`${d}/cpu.max`) ?? '').trim().split(/\s+/);
        if (q !== undefined && q !== 'max') consider(Number(q), Number(p));
      }
    } else if (controllers.split(',').includes('cpu')) {
      const v1 = ms.find((x) => x.type === 'cgroup' && x.options.includes('cpu'));
      for (const d of v1 ? dirs(v1, path) : []) {
        consider(Number(read(`${d}/cpu.cfs_quota_us`)), Number(read(`${d}/cpu.cfs_period_us`)));
      }
    }
  }
  return best === Infinity ? null : Math.max(1, Math.floor(best));
}

let cores: number | undefined;

/** The cores this process may use: its CPU affinity's count, capped by its cgroup's CPU quota (computed once). */
export function usableCores(): number {
  cores ??= Math.max(1, Math.min(availableParallelism(), cgroupCpuLimit() ?? Infinity));
  return cores;
}
