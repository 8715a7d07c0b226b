/** Facts about an undirected graph over some of the simulated nodes. */
export interface ComponentFigures {
  /** Nodes considered. */
  readonly nodes: number;
  /** Size of the largest connected component. */
  readonly largest: number;
  /** largest / nodes (1 when there are no nodes). */
  readonly fraction: number;
  readonly components: number;
}

/**
 * Connected components of the undirected graph whose edges are `neighbours(node)` (an edge counts if
 * either end lists the other), restricted to the nodes for which `include` holds. Union–find, near-linear.
 */
export function components(
  nodeCount: number,
  include: (node: number) => boolean,
  neighbours: (node: number, visit: (peer: number) => void) => void,
  /** If given, filled with each included node's component (a node of it), −1 for the others. */
  componentOf?: Int32Array,
): ComponentFigures {
  const parent = new Int32Array(nodeCount);
  for (let i = 0; i < nodeCount; i++) parent[i] = i;
  const find = (x: number): number => {
    let root = x;
    while (parent[root] !== root) root = parent[root] as number;
    while (parent[x] !== root) {
      const next = parent[x] as number;
      parent[x] = root;
      x = next;
    }
    return root;
  };
  let considered = 0;
  for (let node = 0; node < nodeCount; node++) {
    if (!include(node)) continue;
    considered++;
    neighbours(node, (peer) => {
      if (peer < 0 || peer >= nodeCount || !include(peer)) return;
      const a = find(node);
      const b = find(peer);
      if (a !== b) parent[a] = b;
    });
  }
  componentOf?.fill(-1);
  const sizes = new Int32Array(nodeCount);
  let largest = 0;
  let count = 0;
  for (let node = 0; node < nodeCount; node++) {
    if (!include(node)) continue;
    const root = find(node);
    if (componentOf !== undefined) componentOf[node] = root;
    if (sizes[root] === 0) count++;
    const size = (sizes[root] as number) + 1;
    sizes[root] = size;
    if (size > largest) largest = size;
  }
  return {
    nodes: considered,
    largest,
    fraction: considered === 0 ? 1 : largest / considered,
    components: count,
  };
}
