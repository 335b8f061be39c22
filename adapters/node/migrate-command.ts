/** `eddy migrate` — not yet implemented (issue 2, migrations). */
export async function runMigrateCommand(_argv: string[]): Promise<number> {
  process.stderr.write('eddy migrate: not yet implemented\n');
  return 1;
}
