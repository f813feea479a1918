// A single-page app served by the API: everything renders in the browser.
export const ssr = false;
export const prerender = false;
