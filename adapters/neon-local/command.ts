/** `eddy neon-local` — not yet implemented (issue 2, local Neon-protocol endpoint). */
export async function runNeonLocalCommand(_argv: string[]): Promise<number> {
  process.stderr.write('eddy neon-local: not yet implemented\n');
  return 1;
}
