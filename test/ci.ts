/**
 * Whether the tests run under CI, as CI services and .ci/run set it: CI set to anything but '', 'false' or '0'. There,
 * a test whose tool is missing (Chromium, /usr/bin/time, the npm registry) fails rather than skipping: .ci/run
 * installs them.
 */
export const underCI: boolean = !['', 'false', '0'].includes((process.env.CI ?? '').trim().toLowerCase());
