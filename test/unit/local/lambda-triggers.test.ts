/**
 * The local stack's SQS event source hands the Lambda handler the record shape Lambda's event source
 * mapping does, whatever the SDK's message leaves out.
 */
import { describe, expect, it } from '@jest/globals';
import { sqsRecordOf } from '../../../src/local/lambda-triggers.js';

const ARN = 'arn:aws:sqs:ap-southeast-1:123456789012:mmrb-local-risk-fills';

describe('sqsRecordOf', () => {
  it('copies what SQS said, as Lambda would', () => {
    const record = sqsRecordOf(
      {
        MessageId: 'm-1',
        ReceiptHandle: 'r-1',
        Body: '{"detail":{}}',
        MD5OfBody: 'abc',
        Attributes: { ApproximateReceiveCount: '3', SentTimestamp: '1000', SenderId: 'AIDA', ApproximateFirstReceiveTimestamp: '1001' },
      },
      ARN,
      'ap-southeast-1',
    );
    expect(record).toEqual({
      messageId: 'm-1',
      receiptHandle: 'r-1',
      body: '{"detail":{}}',
      attributes: { ApproximateReceiveCount: '3', SentTimestamp: '1000', SenderId: 'AIDA', ApproximateFirstReceiveTimestamp: '1001' },
      messageAttributes: {},
      md5OfBody: 'abc',
      eventSource: 'aws:sqs',
      eventSourceARN: ARN,
      awsRegion: 'ap-southeast-1',
    });
  });

  it('fills what the message leaves out: empty strings, a first receive, now', () => {
    const before = Date.now();
    const record = sqsRecordOf({}, ARN, 'ap-southeast-1');
    expect(record).toMatchObject({ messageId: '', receiptHandle: '', body: '', md5OfBody: '', attributes: { ApproximateReceiveCount: '1', SenderId: 'local' } });
    expect(Number(record.attributes.SentTimestamp)).toBeGreaterThanOrEqual(before);
    expect(Number(record.attributes.ApproximateFirstReceiveTimestamp)).toBeGreaterThanOrEqual(before);
  });
});
