// A Repeat participant written with the original Node library (msgflo-nodejs),
// for the interop tests: started by msgflo-nodejs's launcher,
//   msgflo-nodejs --name ROLE node-repeat.js
'use strict';
const msgflo = require('msgflo-nodejs');

module.exports = (broker, role) => {
  const definition = {
    component: 'node/Repeat',
    icon: 'file-word-o',
    label: 'Repeats in data without changes',
    inports: [{ id: 'in', type: 'any' }],
    outports: [{ id: 'out', type: 'any' }],
  };
  const process = (inport, indata, send) => send('out', null, indata);
  return new msgflo.participant.Participant(broker, definition, process, role);
};
