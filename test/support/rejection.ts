/** The error a promise rejects with, checked to be of the expected class (anything else fails the test). */
export async function rejectionOf<E extends Error>(work: Promise<unknown>, expected: abstract new (...args: never[]) => E): Promise<E> {
  try {
    await work;
  } catch (error) {
    if (error instanceof expected) return error;
    throw error;
  }
  throw new Error(`expected a rejection with ${expected.name}`);
}
