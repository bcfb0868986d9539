import t from 'tap';
import { parseVoters, quorumSize } from '../../../../broker/controller/raft/voters.ts';

t.test('parses the controller quorum list', (t) => {
  t.same(parseVoters('1@h1:9093, 2@10.0.0.2:9093,3@[::1]:9094'), [
    { id: 1, host: 'h1', port: 9093 },
    { id: 2, host: '10.0.0.2', port: 9093 },
    { id: 3, host: '::1', port: 9094 },
  ]);
  t.throws(() => parseVoters('1@h:1,1@h:2'), /twice/);
  t.throws(() => parseVoters('x@h:1'), /id@host:port/);
  t.throws(() => parseVoters('0@h:1'), /positive/);
  t.throws(() => parseVoters('1@h:70000'), /out of range/);
  t.end();
});

t.test('a quorum is a strict majority', (t) => {
  t.same([1, 2, 3, 4, 5].map(quorumSize), [1, 2, 2, 3, 3]);
  t.end();
});
