// The node secret of a function that is told where it is (SIROCCO_NODE_SECRET_PARAMETER: an SSM
// SecureString, infra/modules/secrets) rather than the secret itself, so the secret sits in
// neither the Terraform state nor the function's configuration. Read once, at init, with the
// function role's credentials; AWS_ENDPOINT_URL_SSM points it at an SSM-compatible endpoint.
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';

export const NODE_SECRET_PARAMETER_ENV = 'SIROCCO_NODE_SECRET_PARAMETER';

/** SIROCCO_NODE_SECRET as given, else read from the parameter SIROCCO_NODE_SECRET_PARAMETER names. */
export async function resolveNodeSecret(env: NodeJS.ProcessEnv): Promise<string> {
  const name = env[NODE_SECRET_PARAMETER_ENV];
  if (env.SIROCCO_NODE_SECRET) return env.SIROCCO_NODE_SECRET;
  if (!name) throw new Error(`set ${NODE_SECRET_PARAMETER_ENV} (the SSM parameter holding the node secret) or SIROCCO_NODE_SECRET`);
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  try {
    const out = await new SSMClient({}).send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    if (!out.Parameter?.Value) throw new Error('it has no value');
    return out.Parameter.Value;
  } catch (err) {
    throw new Error(`cannot read the node secret from SSM parameter ${name}: ${(err as Error).message} (the function's role needs ssm:GetParameter on it)`);
  }
}
