/** Environment the integration workers receive from global-setup.ts. */
export const MOTO_ENV = { endpoint: 'MOTO_ENDPOINT' } as const;
