// Koa 2 is installed as `koa2` (npm:koa@^2). The tests use only API that both majors share, so
// they type it as Koa 3.
declare module 'koa2' {
  import Koa from 'koa';
  export default Koa;
}
