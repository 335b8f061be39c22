// What Next.js provides at runtime and in its own type definitions (next-env.d.ts), declared
// here so the examples type-check without installing Next.js.
declare const process: { env: Record<string, string | undefined> };
