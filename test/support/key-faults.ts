/** Bybit's key management with faults a test chooses: the real adapter underneath, failing or bending where told. */
import type { KeyCredentials, NewKeyRequest, SubAccountKey } from '../../src/adapters/bybit/key-admin.js';
import type { KeyAdmin } from '../../src/control/secret-rotation.js';

export interface KeyFaults {
  /** Thrown by the next create-sub-api calls, one per entry. */
  create?: Error[];
  /** Changes what a create asks for (a key unlike the current one). */
  createAs?: (request: NewKeyRequest) => NewKeyRequest;
  delete?: Error[];
  list?: Error[];
  /** Changes what a listing answers (a key missing from it). */
  listAs?: (keys: SubAccountKey[]) => SubAccountKey[];
}

export class FaultyKeys implements KeyAdmin {
  /** Ids of the keys created through it, in order. */
  readonly created: string[] = [];
  readonly faults: KeyFaults = {};

  constructor(
    private readonly venue: KeyAdmin,
    /** Awaited before each create (create-sub-api allows one a second per UID). */
    private readonly beforeCreate: () => Promise<void> = () => Promise.resolve(),
  ) {}

  describe(credentials: KeyCredentials) {
    return this.venue.describe(credentials);
  }

  async createSubAccountKey(admin: KeyCredentials, request: NewKeyRequest) {
    const fault = this.faults.create?.shift();
    if (fault) throw fault;
    await this.beforeCreate();
    const key = await this.venue.createSubAccountKey(admin, this.faults.createAs ? this.faults.createAs(request) : request);
    this.created.push(key.id);
    return key;
  }

  async deleteSubAccountKey(admin: KeyCredentials, apiKey: string) {
    const fault = this.faults.delete?.shift();
    if (fault) throw fault;
    return this.venue.deleteSubAccountKey(admin, apiKey);
  }

  async listSubAccountKeys(admin: KeyCredentials, subUid: number) {
    const fault = this.faults.list?.shift();
    if (fault) throw fault;
    const listed = await this.venue.listSubAccountKeys(admin, subUid);
    return this.faults.listAs ? this.faults.listAs(listed) : listed;
  }
}
