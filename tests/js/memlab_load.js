// Loads a .heapsnapshot with memlab's own parser (@memlab/heap-analysis
// getFullHeapFromFile: parse, shortest paths, dominators, retained sizes)
// and prints what tests/test_export.py compares, as one JSON line:
// node and edge counts, the root's children, and the retained size of
// every node whose name starts with one of the given prefixes.
//
// usage: node memlab_load.js FILE [NAME-PREFIX...]
'use strict';
const {getFullHeapFromFile} = require('@memlab/heap-analysis');

async function main() {
  const [file, ...prefixes] = process.argv.slice(2);
  const started = Date.now();
  const heap = await getFullHeapFromFile(file);
  const seconds = (Date.now() - started) / 1000;
  const matches = [];
  let edgeCount = 0;
  heap.nodes.forEach(node => {
    edgeCount += node.edge_count;
    if (prefixes.some(prefix => node.name.startsWith(prefix))) {
      matches.push({
        id: node.id,
        name: node.name,
        type: node.type,
        self_size: node.self_size,
        retained_size: node.retainedSize,
        dominator_id: node.dominatorNode ? node.dominatorNode.id : null,
      });
    }
  });
  const root = heap.nodes.get(0);
  console.log(JSON.stringify({
    node_count: heap.nodes.length,
    edge_count: heap.edges.length,
    edge_count_from_nodes: edgeCount,
    root: {id: root.id, name: root.name, type: root.type, edge_count: root.edge_count,
           retained_size: root.retainedSize},
    matches,
    seconds,
  }));
}

main().catch(err => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
