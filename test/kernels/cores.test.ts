import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { cgroupCpuLimit, usableCores } from '../../src/kernels/cores.js';

/** A reader over a table of files (null: missing). */
const files = (t: Record<string, string>) => (path: string): string | null => t[path] ?? null;

const V2_MOUNT = '30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n';
const V1_MOUNTS = [
  '40 30 0:35 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct',
  '41 30 0:36 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory',
  '42 30 0:37 /docker/abc /sys/fs/cgroup/cpuset ro,nosuid - cgroup cgroup rw,cpuset',
].join('\n');

test('cgroup v2: cpu.max of the process cgroup and its ancestors, the tightest, rounded down', () => {
  // a container with its own cgroup namespace: the path is /
  assert.equal(cgroupCpuLimit(files({ '/proc/self/cgroup': '0::/\n', '/proc/self/mountinfo': V2_MOUNT, '/sys/fs/cgroup/cpu.max': '200000 100000\n' })), 2);
  assert.equal(cgroupCpuLimit(files({ '/proc/self/cgroup': '0::/\n', '/proc/self/mountinfo': V2_MOUNT, '/sys/fs/cgroup/cpu.max': '250000 100000\n' })), 2);
  // a quota under one CPU still runs one thread
  assert.equal(cgroupCpuLimit(files({ '/proc/self/cgroup': '0::/\n', '/proc/self/mountinfo': V2_MOUNT, '/sys/fs/cgroup/cpu.max': '50000 100000' })), 1);
  // nested: the parent's quota is the tighter one
  const nested = {
    '/proc/self/cgroup': '0::/kubepods/pod1/c1\n', '/proc/self/mountinfo': V2_MOUNT,
    '/sys/fs/cgroup/kubepods/pod1/c1/cpu.max': 'max 100000', '/sys/fs/cgroup/kubepods/pod1/cpu.max': '300000 100000',
    '/sys/fs/cgroup/kubepods/cpu.max': '800000 100000', '/sys/fs/cgroup/cpu.max': 'max 100000',
  };
  assert.equal(cgroupCpuLimit(files(nested)), 3);
  // no quota anywhere
  assert.equal(cgroupCpuLimit(files({ '/proc/self/cgroup': '0::/user.slice\n', '/proc/self/mountinfo': V2_MOUNT, '/sys/fs/cgroup/user.slice/cpu.max': 'max 100000' })), null);
});

test('cgroup v1: cfs quota over period, the path taken relative to the mounted root', () => {
  const t = {
    '/proc/self/cgroup': '12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n3:cpuset:/docker/abc\n',
    '/proc/self/mountinfo': V1_MOUNTS,
    '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '150000\n', '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '50000\n',
  };
  assert.equal(cgroupCpuLimit(files(t)), 3);
  // -1: no quota
  assert.equal(cgroupCpuLimit(files({ ...t, '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n' })), null);
});

test('cgroup: missing or unreadable files give no limit rather than an error', () => {
  assert.equal(cgroupCpuLimit(files({})), null);
  assert.equal(cgroupCpuLimit(files({ '/proc/self/cgroup': '0::/\n', '/proc/self/mountinfo': V2_MOUNT })), null);
  assert.equal(cgroupCpuLimit(files({ '/proc/self/cgroup': 'garbage', '/proc/self/mountinfo': 'garbage - x' })), null);
  assert.equal(cgroupCpuLimit(files({ '/proc/self/cgroup': '0::/\n', '/proc/self/mountinfo': V2_MOUNT, '/sys/fs/cgroup/cpu.max': 'junk' })), null);
});

test('usableCores: at least one, at most the CPUs the affinity allows', () => {
  const n = usableCores();
  assert.ok(Number.isInteger(n) && n >= 1 && n <= availableParallelism(), `usableCores() = ${n}`);
  const limit = cgroupCpuLimit();
  if (limit !== null) assert.ok(n <= limit);
});

test('cgroup: the own cgroup below the mounted root, its quota the tightest; a path beside the root is read as it is', () => {
  // cgroup v1 of a container without its own namespace: the mount's root is the container's cgroup, and the process
  // sits in a cgroup below it, whose quota (below the one at the mount point) is the one that holds
  const mount = '40 30 0:35 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct';
  const inner = {
    '/proc/self/cgroup': '4:cpu,cpuacct:/docker/abc/inner\n', '/proc/self/mountinfo': mount,
    '/sys/fs/cgroup/cpu,cpuacct/inner/cpu.cfs_quota_us': '200000', '/sys/fs/cgroup/cpu,cpuacct/inner/cpu.cfs_period_us': '100000',
    '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '600000', '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000',
  };
  assert.equal(cgroupCpuLimit(files(inner)), 2);
  // the quota of the process's own cgroup (its leaf), under parents of none
  const leaf = {
    '/proc/self/cgroup': '0::/kubepods/pod1/c1\n', '/proc/self/mountinfo': V2_MOUNT,
    '/sys/fs/cgroup/kubepods/pod1/c1/cpu.max': '200000 100000', '/sys/fs/cgroup/kubepods/pod1/cpu.max': 'max 100000',
  };
  assert.equal(cgroupCpuLimit(files(leaf)), 2);
  // /docker/abcd is not below the root /docker/abc: its path is taken whole (not as the root's "d")
  const beside = {
    '/proc/self/cgroup': '4:cpu,cpuacct:/docker/abcd\n', '/proc/self/mountinfo': mount,
    '/sys/fs/cgroup/cpu,cpuacct/docker/abcd/cpu.cfs_quota_us': '300000', '/sys/fs/cgroup/cpu,cpuacct/docker/abcd/cpu.cfs_period_us': '100000',
    '/sys/fs/cgroup/cpu,cpuacct/d/cpu.cfs_quota_us': '100000', '/sys/fs/cgroup/cpu,cpuacct/d/cpu.cfs_period_us': '100000',
  };
  assert.equal(cgroupCpuLimit(files(beside)), 3);
});

test('cgroup v1: the cpu controller\'s mount and line, not cpuset\'s, in whichever order they are listed', () => {
  // mountinfo lists cpuset before cpu (as Docker's often does); /proc/self/cgroup puts cpuset in another cgroup
  const mounts = [V1_MOUNTS.split('\n')[2], V1_MOUNTS.split('\n')[1], V1_MOUNTS.split('\n')[0]].join('\n');
  const t = {
    '/proc/self/cgroup': '3:cpuset:/other\n4:cpu,cpuacct:/docker/abc\n', '/proc/self/mountinfo': mounts.replaceAll('/docker/abc ', '/ '),
    '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '300000', '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000',
    '/sys/fs/cgroup/cpu,cpuacct/other/cpu.cfs_quota_us': '100000', '/sys/fs/cgroup/cpu,cpuacct/other/cpu.cfs_period_us': '100000',
  };
  assert.equal(cgroupCpuLimit(files(t)), 3);
});

test('cgroup: one of /proc/self/cgroup and /proc/self/mountinfo unreadable gives no limit; usableCores is the affinity\'s count capped by the quota', () => {
  assert.equal(cgroupCpuLimit(files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '100000 100000' })), null);
  assert.equal(cgroupCpuLimit(files({ '/proc/self/mountinfo': V2_MOUNT, '/sys/fs/cgroup/cpu.max': '100000 100000' })), null);
  assert.equal(usableCores(), Math.min(availableParallelism(), cgroupCpuLimit() ?? Infinity));
});
