/**
 * `npm run bench [-- NAME [options]]`: run one benchmark by name, or all of them. Benchmarks print
 * their figures; they are never part of `npm test`.
 */
const benches: Record<string, () => Promise<{ main: () => Promise<void> }>> = {
  'client-accuracy': () => import('./client-accuracy/run.ts'),
  'gateway-overhead': () => import('./gateway-overhead/run.ts'),
  'report-open': () => import('./report-open/run.ts'),
  'sim-calibration': () => import('./sim-calibration/run.ts'),
  'sim-scale': () => import('./sim-scale/run.ts'),
  sweeps: () => import('./sweeps/run.ts'),
};

const name = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : undefined;
if (name !== undefined && !(name in benches)) {
  console.error(`unknown benchmark "${name}"; one of: ${Object.keys(benches).join(', ')}`);
  process.exit(2);
}
for (const [n, load] of Object.entries(benches)) {
  if (name !== undefined && n !== name) continue;
  console.log(`\n== ${n} ==`);
  await (await load()).main();
}
