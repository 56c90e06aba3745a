// Node discovery from EC2 tags: the node autoscaling group tags every instance it launches
// (infra/modules/nodes), so the running instances carrying that tag are the node list. The
// gateway asks EC2 every `intervalMs` and hands the list to `onNodes` (NodePool.setUrls).
import { DescribeInstancesCommand, EC2Client, type DescribeInstancesCommandOutput } from '@aws-sdk/client-ec2';
import { log } from '../../telemetry/log.ts';

// The one call this class makes; an EC2Client satisfies it, and so does a test double (no AWS
// endpoint is reachable from tests).
export type DescribeInstancesSender = {
  send(command: DescribeInstancesCommand): Promise<DescribeInstancesCommandOutput>;
};

export type Ec2TagDiscoveryOptions = {
  region?: string; // default: the SDK's chain (AWS_REGION, profile)
  tagKey: string;
  tagValue: string;
  port: number;
  intervalMs: number;
  client?: DescribeInstancesSender;
  onNodes: (urls: string[]) => void | Promise<void>;
};

export class Ec2TagDiscovery {
  private readonly client: DescribeInstancesSender;
  private current: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly options: Ec2TagDiscoveryOptions) {
    this.client = options.client ?? new EC2Client({ region: options.region });
  }

  // The first lookup is awaited and its error thrown, so a missing permission or a wrong
  // region stops the gateway at start-up instead of leaving it silently without nodes.
  async start(): Promise<string[]> {
    this.stopped = false;
    await this.refresh();
    this.schedule();
    return this.urls();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  // The list handed to onNodes last.
  urls(): string[] {
    return [...this.current];
  }

  // One round: list, then hand over. Throws on failure and leaves the last list in place.
  async refresh(): Promise<string[]> {
    const urls = await this.lookup();
    await this.options.onNodes(urls);
    this.current = urls;
    return this.urls();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      // A failed round keeps the nodes we had: an EC2 API hiccup must not empty the pool.
      this.refresh()
        .catch((err: Error) => log('warn', 'node discovery failed, keeping the last list', { error: err.message, nodes: this.current.length }))
        .finally(() => this.schedule());
    }, this.options.intervalMs).unref();
  }

  // Every running instance with the tag, as `http://<private ip>:<port>`, sorted and
  // without duplicates; instances without a private address yet are left out.
  private async lookup(): Promise<string[]> {
    const { tagKey, tagValue, port } = this.options;
    const ips = new Set<string>();
    let nextToken: string | undefined;
    do {
      const page = await this.client.send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: `tag:${tagKey}`, Values: [tagValue] },
            { Name: 'instance-state-name', Values: ['running'] },
          ],
          NextToken: nextToken,
        }),
      );
      for (const reservation of page.Reservations ?? []) {
        for (const instance of reservation.Instances ?? []) {
          if (instance.PrivateIpAddress) ips.add(instance.PrivateIpAddress);
        }
      }
      nextToken = page.NextToken || undefined;
    } while (nextToken);
    return [...ips].sort().map((ip) => `http://${ip}:${port}`);
  }
}
