// 淘宝特价 Taobao Deals: the app. The coupon applied in the cart lives here
// (every page's cart total uses it); the cart and the orders live in storage.
App({
  globalData: { coupon: null },
  onLaunch(options) {
    console.log(`淘宝特价 opened from ${options.scene}`);
  },
});
