// A hand-rolled child_process.fork dispatcher's worker: answers [id, x] with [id, x].
'use strict';
process.on('message', (m) => process.send(m));
