// Express 4 is installed as `express4` (npm:express@^4). Its own types would be a second copy of
// the Express types; the tests use only API that both majors share, so they type it as Express 5.
declare module 'express4' {
  import express from 'express';
  export default express;
}
