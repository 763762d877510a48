// Repeat participant for the benchmark, written with the original Node
// library (msgflo-nodejs 0.11.1): started by the original msgflo-setup as
//   msgflo-nodejs --name ROLE Repeat.js
// (its default handler for .js files). Every message on `in` goes to `out`.
// MSGFLO_BENCH_PREFETCH=N sets the AMQP prefetch.
'use strict';
const msgflo = require('msgflo-nodejs');

module.exports = (broker, role) => {
  const definition = {
    component: 'Repeat',
    icon: 'file-word-o',
    label: 'Repeats in data without changes',
    inports: [{ id: 'in', type: 'any' }],
    outports: [{ id: 'out', type: 'any' }],
  };
  const repeat = (inport, indata, send) => send('out', null, indata);
  // A tuned prefetch for the RabbitMQ runs (msgflo-nodejs's default is 2).
  const prefetch = parseInt(process.env.MSGFLO_BENCH_PREFETCH || '', 10);
  const client = prefetch ? msgflo.transport.getClient(broker, { prefetch }) : broker;
  return new msgflo.participant.Participant(client, definition, repeat, role);
};
