// Loads a .heapsnapshot with Chrome DevTools' own code, as the Memory panel
// does: the file is streamed in chunks into HeapSnapshotLoader, then
// JSHeapSnapshot computes retainers, dominators, retained sizes, distances
// and class names (its second worker runs on a MessageChannel here). Prints
// one JSON line for tests/test_export.py: counts, the root, the retained
// size of every node whose name starts with one of the prefixes, and the
// Summary view's class aggregates for the given class names.
//
// usage: node devtools_load.mjs BUNDLE FILE [--class NAME]... [PREFIX]...
import fs from 'node:fs';
import {pathToFileURL} from 'node:url';

const args = process.argv.slice(2);
const [bundle, file] = args;
const classes = [], prefixes = [];
for (let i = 2; i < args.length; i++) {
  if (args[i] === '--class') {
    classes.push(args[++i]);
  } else {
    prefixes.push(args[i]);
  }
}

// ES2024, which DevTools uses and Node before 22 lacks
if (!Promise.withResolvers) {
  Promise.withResolvers = () => {
    let resolve, reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return {promise, resolve, reject};
  };
}

const {HeapSnapshot, HeapSnapshotLoader} = await import(pathToFileURL(bundle).href);

const started = Date.now();
const progressEvents = [];
const dispatcher = {sendEvent: (name, data) => progressEvents.push(name)};
const loader = new HeapSnapshotLoader.HeapSnapshotLoader(dispatcher);
await new Promise((resolve, reject) => {
  const stream = fs.createReadStream(file, {encoding: 'utf8', highWaterMark: 1 << 20});
  stream.on('data', chunk => loader.write(chunk));
  stream.on('end', resolve);
  stream.on('error', reject);
});
loader.close();
const channel = new MessageChannel();
new HeapSnapshot.SecondaryInitManager(channel.port2);
const snapshot = await loader.buildSnapshot(channel.port1);
const seconds = (Date.now() - started) / 1000;

const matches = [];
for (let it = snapshot.allNodes(); it.hasNext(); it.next()) {
  const node = it.item();
  const name = node.name();
  if (prefixes.some(prefix => name.startsWith(prefix))) {
    matches.push({id: node.id(), name, type: node.type(), self_size: node.selfSize(),
                  retained_size: node.retainedSize(), class_name: node.className()});
  }
}
// the Summary view: objects grouped by class name (no filter)
const aggregates = snapshot.aggregatesWithFilter({});
const summary = {};
for (const info of Object.values(aggregates)) {
  if (classes.includes(info.name)) {
    summary[info.name] = {count: info.count, self: info.self, max_retained: info.maxRet};
  }
}
let edgeCount = 0;
for (let it = snapshot.allNodes(); it.hasNext(); it.next()) {
  edgeCount += it.item().edgesCount();
}
const root = snapshot.rootNode();
console.log(JSON.stringify({
  node_count: snapshot.nodeCount,
  edge_count: edgeCount,
  total_size: snapshot.totalSize,
  root: {id: root.id(), name: root.name(), type: root.type(), edge_count: root.edgesCount(),
         retained_size: root.retainedSize()},
  matches,
  classes: summary,
  seconds,
}));
