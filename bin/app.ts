/**
 * CDK entry. The stacks arrive with the CDK issue (issue 7); until then `npm run synth` says so and exits
 * without error, so scripts and CI that call it keep working.
 */
console.log('synth: not yet: the CDK app (stacks built from src/resources/definitions.ts) lands with issue 7.');
