export default async function globalTeardown() {
  await globalThis.motoServer?.stop();
}
