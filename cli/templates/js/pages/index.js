// The home page: a counter kept in storage.
Page({
  data: { count: 0 },

  onShow() {
    this.setData({ count: wx.getStorageSync('count') || 0 });
  },

  add() {
    const count = this.data.count + 1;
    wx.setStorageSync('count', count);
    this.setData({ count });
  },

  reset() {
    wx.removeStorageSync('count');
    this.setData({ count: 0 });
  },
});
