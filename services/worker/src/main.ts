/** The worker alone in its process (SLIPWAY_ROLE=worker does the same from the compiled entry). */
import { loadServiceSettings, settingsOrExit } from '@slipway/runtime/config';
import { startOrExit, stopOnSignals } from '@slipway/runtime/service';
import { startWorker } from './service';

const worker = await startOrExit(() => startWorker(settingsOrExit(() => loadServiceSettings('worker'))));
stopOnSignals(() => [worker]);
