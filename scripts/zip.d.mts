export function readZipEntries(file: string, wanted: (name: string) => boolean): Map<string, Buffer>;
