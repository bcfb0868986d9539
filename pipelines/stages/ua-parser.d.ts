// ua-parser-js 1.x ships no TypeScript types; this declares only the part the pageviews stage uses.
declare module 'ua-parser-js' {
  export interface UAResult {
    ua: string;
    browser: { name?: string; version?: string; major?: string };
    os: { name?: string; version?: string };
    device: { type?: string; vendor?: string; model?: string };
  }
  export class UAParser {
    constructor(ua?: string);
    setUA(ua: string): this;
    getResult(): UAResult;
  }
  export default UAParser;
}
