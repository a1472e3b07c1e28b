/**
 * The freeze API (docs/FREEZE_API.md): API Gateway REST API, every method IAM-authorised (SigV4; the
 * caller's ARN is the audit trail's principal), request bodies validated against JSON schemas generated
 * from the handler's own zod schemas, throttled for operators rather than traffic, with access logs and a
 * stage per environment. A managed policy that grants exactly these methods is there for operators' roles.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import * as z from 'zod';
import { UnfreezeBodySchema, freezeBodySchema } from '../src/control/freeze-api.js';
import { allSymbols } from '../src/control/settings.js';
import { type ControlPlaneProps, controlPlaneFunction } from './bundled-function.js';

export interface FreezeApiProps extends ControlPlaneProps {
  readonly rateLimitPerSecond: number;
  readonly burstLimit: number;
}

/** A zod schema as API Gateway's JSON schema (draft 4); refinements stay with the handler. */
export function apiGatewaySchema(schema: z.ZodType): apigateway.JsonSchema {
  const { $schema: _draft, ...body } = z.toJSONSchema(schema, { target: 'draft-4', io: 'input' }) as Record<string, unknown>;
  return { schema: apigateway.JsonSchemaVersion.DRAFT4, ...(body as apigateway.JsonSchema) };
}

export class FreezeApi extends Construct {
  readonly api: apigateway.RestApi;
  readonly function: nodejs.NodejsFunction;
  readonly operatorsPolicy: iam.ManagedPolicy;
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: FreezeApiProps) {
    super(scope, id);
    const stage = props.names.stage;
    // A hard stop cancels at the venue within the call; API Gateway waits 29 s at most.
    this.function = controlPlaneFunction(this, 'freezeApi', props, { timeout: Duration.seconds(20) });

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', { logGroupName: `/mmrb/${stage}/freeze-api-access`, retention: props.logRetention, removalPolicy: RemovalPolicy.RETAIN });
    this.api = new apigateway.RestApi(this, 'Api', {
      restApiName: `mmrb-${stage}-freeze-api`,
      description: 'Freeze, unfreeze and status of the market maker (IAM-authorised operators)',
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      // API Gateway's account-level role for execution logs, retained: other APIs of the account may use it.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: stage,
        throttlingRateLimit: props.rateLimitPerSecond,
        throttlingBurstLimit: props.burstLimit,
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields({ caller: true, httpMethod: true, ip: true, protocol: true, requestTime: true, resourcePath: true, responseLength: true, status: true, user: true }),
        // Errors only: request bodies carry operators' reasons, which belong in the audit trail, not in logs.
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: true,
      },
      defaultMethodOptions: { authorizationType: apigateway.AuthorizationType.IAM },
    });
    // Field errors of a body that fails the schema, as the handler would give them.
    this.api.addGatewayResponse('InvalidBody', {
      type: apigateway.ResponseType.BAD_REQUEST_BODY,
      statusCode: '400',
      templates: { 'application/json': '{"error":"invalid request body","details":"$context.error.validationErrorString"}' },
    });
    const validator = this.api.addRequestValidator('Validator', { validateRequestBody: true, validateRequestParameters: true });
    const integration = new apigateway.LambdaIntegration(this.function);
    const model = (name: string, schema: z.ZodType) => this.api.addModel(name, { contentType: 'application/json', modelName: name, schema: apiGatewaySchema(schema) });
    const freezeModel = model('FreezeBody', freezeBodySchema(allSymbols(props.settings)));
    const unfreezeModel = model('UnfreezeBody', UnfreezeBodySchema);
    const freeze = this.api.root.addResource('freeze').addMethod('POST', integration, { requestValidator: validator, requestModels: { 'application/json': freezeModel } });
    const unfreeze = this.api.root.addResource('unfreeze').addMethod('POST', integration, { requestValidator: validator, requestModels: { 'application/json': unfreezeModel } });
    const status = this.api.root.addResource('status').addMethod('GET', integration, { requestValidator: validator });

    this.operatorsPolicy = new iam.ManagedPolicy(this, 'Operators', {
      managedPolicyName: `mmrb-${stage}-freeze-api-operators`,
      description: `Calls the ${stage} freeze API (freeze, unfreeze, status); attach to operators' roles`,
      statements: [new iam.PolicyStatement({ actions: ['execute-api:Invoke'], resources: [freeze, unfreeze, status].map((method) => this.api.arnForExecuteApi(method.httpMethod, method.resource.path, stage)) })],
    });
  }
}
