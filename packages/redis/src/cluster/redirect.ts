/**
 * Whether `err` is a cluster reply saying the command was not run on this node and belongs
 * elsewhere or later: `MOVED` (the slot has another owner), `ASK` (the slot is migrating),
 * `TRYAGAIN` (a migration is half done) or `CLUSTERDOWN` (the cluster lost a slot's owner). Such a
 * command ran nowhere, so sending it again cannot deliver a message twice. See
 * https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#redirection-and-resharding
 */
export function isRedirect(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  return /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /.test(message);
}
