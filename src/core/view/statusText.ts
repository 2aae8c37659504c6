import { usableCount } from './viewModel';
import type { ViewModel } from './viewModel';

/** What the status item shows for a view model (pure: tests and the e2e match the text). */
export function renderStatus(vm: ViewModel): { text: string; level: 'ok' | 'warning' | 'error'; summary: string } {
  const total = vm.keys.length;
  const usable = usableCount(vm);
  const serving = vm.role === 'leader' || vm.role === 'follower';
  if (!serving) {
    const why =
      vm.role === 'conflict'
        ? `port ${vm.port} is taken`
        : vm.role === 'starting'
          ? 'starting'
          : (vm.error ?? 'stopped');
    return {
      text: '$(key) KeyRelay off',
      level: vm.role === 'starting' ? 'ok' : 'error',
      summary: `KeyRelay proxy is off (${why})`,
    };
  }
  const text =
    total > 0 ? `$(key) KeyRelay ${usable}/${total} · ${vm.requestsToday}` : `$(key) KeyRelay ${usable}/${total}`;
  // No keys at all is the first-run state (requests pass through with the client's own key), not a failure.
  const level = total === 0 ? 'ok' : usable === 0 ? 'error' : usable < total ? 'warning' : 'ok';
  const role = vm.role === 'follower' ? ' (served by another window)' : '';
  return {
    text,
    level,
    summary: `KeyRelay${role}: ${usable} of ${total} keys usable, ${vm.requestsToday} requests today`,
  };
}
