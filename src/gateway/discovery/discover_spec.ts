// `--discover ec2:TAG_KEY=TAG_VALUE[:PORT]`: where the gateway finds its nodes when they come
// and go (an autoscaling group) rather than from a fixed `--nodes` list.
import { z } from 'zod';

export const DEFAULT_NODE_PORT = 8081;
// EC2 DescribeInstances is rate-limited per account; nodes take minutes to boot and load a
// model, so looking every 15 s finds them soon enough without spending the API budget.
export const DISCOVERY_INTERVAL_MS = 15_000;

const SPEC_HELP = 'expected ec2:TAG_KEY=TAG_VALUE[:PORT], e.g. ec2:sirocco-node-group=prod:8081';

// Tag keys may hold ':' (aws:…, sirocco:…), so the key ends at the first '='; a trailing
// ':digits' is always the port. 'ec2:a:b=c:8081' → key 'a:b', value 'c', port 8081.
export const DiscoverSpec = z
  .string()
  .regex(/^ec2:[^=]+=.+$/, SPEC_HELP)
  .transform((spec, ctx) => {
    const body = spec.slice('ec2:'.length);
    const eq = body.indexOf('=');
    const tagKey = body.slice(0, eq);
    const rest = body.slice(eq + 1);
    const withPort = /^(.+):(\d+)$/.exec(rest);
    const tagValue = withPort ? withPort[1]! : rest;
    const port = withPort ? Number(withPort[2]) : DEFAULT_NODE_PORT;
    if (port < 1 || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `port ${port} is out of range (1-65535)` });
      return z.NEVER;
    }
    return { provider: 'ec2' as const, tagKey, tagValue, port };
  });

export type DiscoverSpec = z.infer<typeof DiscoverSpec>;
