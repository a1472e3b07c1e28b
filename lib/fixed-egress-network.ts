/**
 * The engine's network: private subnets whose traffic to Bybit leaves through NAT gateways with fixed
 * Elastic IPs. Bybit expires an API key that is not bound to IP addresses after 90 days, so the key is
 * bound to these (they are stack outputs, and retained: replacing one would lock the key out). Every task
 * behind one address shares Bybit's per-IP request limit; the engine configuration is told how many.
 */
import { CfnOutput, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface FixedEgressNetworkProps {
  /** NAT gateways, one per availability zone, each with its own fixed address (1 to 3). */
  readonly egressIps: number;
  readonly logRetention: logs.RetentionDays;
}

export class FixedEgressNetwork extends Construct {
  readonly vpc: ec2.Vpc;
  readonly egressIps: readonly ec2.CfnEIP[];

  constructor(scope: Construct, id: string, props: FixedEgressNetworkProps) {
    super(scope, id);
    this.egressIps = Array.from({ length: props.egressIps }, (_, index) => {
      const eip = new ec2.CfnEIP(this, `EgressIp${index + 1}`, { domain: 'vpc' });
      eip.applyRemovalPolicy(RemovalPolicy.RETAIN);
      new CfnOutput(this, `EgressIp${index + 1}Address`, { value: eip.attrPublicIp, description: 'Put on the Bybit API key\'s IP allow-list' });
      return eip;
    });
    const flowLogs = new logs.LogGroup(this, 'FlowLogs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      // As many zones as fixed addresses: each zone's tasks leave through its own gateway.
      maxAzs: Math.max(2, props.egressIps),
      natGateways: props.egressIps,
      natGatewayProvider: ec2.NatProvider.gateway({ eipAllocationIds: this.egressIps.map((eip) => eip.attrAllocationId) }),
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'engine', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 24 },
      ],
      flowLogs: { all: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: ec2.FlowLogTrafficType.ALL } },
    });
  }
}
