// The payment's outcome: paid, cancelled or failed (pay again), or waiting for
// the provider's confirmation (check again).
const store = require('../utils/store');

Page({
  data: { order: null, no: '' },

  onLoad(query) {
    this.no = query.order || '';
  },

  onShow() {
    this.refresh();
  },

  onPullDownRefresh() {
    this.refresh();
  },

  refresh() {
    this.setData({ no: this.no, order: store.order(this.no) });
  },

  retry(e) {
    const order = store.order(e.currentTarget.dataset.order);
    if (!order) throw new Error(`no order ${e.currentTarget.dataset.order}`);
    const result = store.pay(order);
    if (result.status === 'paid') getApp().globalData.coupon = null;
    this.refresh();
  },

  check(e) {
    store.recordResult(store.details(e.currentTarget.dataset.order));
    this.refresh();
  },

  openOrders() {
    wx.navigateTo({ url: '/pages/orders' });
  },

  home() {
    wx.navigateBack({ delta: 10 });
  },
});
