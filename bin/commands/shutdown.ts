/** Resolves with the name of the first SIGTERM or SIGINT, for a clean shutdown. */
export function waitForShutdownSignal(): Promise<string> {
  return new Promise((resolve) => {
    const onTerm = () => done('SIGTERM');
    const onInt = () => done('SIGINT');
    const done = (signal: string) => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      resolve(signal);
    };
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
}
