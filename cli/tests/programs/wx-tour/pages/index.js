Page({
  data: { out: 'ready' },
  show(text) { this.setData({ out: text }); },
  storageSync() {
    wx.setStorageSync('k', { a: 1 });
    const a = wx.getStorageSync('k').a;
    const keys = wx.getStorageInfoSync().keys.join(',');
    wx.removeStorageSync('k');
    const gone = wx.getStorageSync('k') === '';
    this.show(`sync a=${a} keys=${keys} gone=${gone}`);
  },
  async storageAsync() {
    await wx.setStorage({ key: 'j', data: [1, 2] });
    const { data } = await wx.getStorage({ key: 'j' });
    const missing = await wx.getStorage({ key: 'nope' }).catch((f) => f.errMsg);
    wx.clearStorageSync();
    this.show(`async data=${data.join('+')} missing=${missing} info=${wx.getStorageInfoSync().keys.length}`);
  },
  profile() {
    wx.getUserProfile({ desc: 'to greet you', success: (r) => this.show(`profile ${r.userInfo.nickName}`), fail: (f) => this.show(`profile refused ${f.errMsg}`) });
  },
  phone() {
    wx.authorize({ scope: 'scope.phoneNumber', success: () => this.show('phone granted'), fail: (f) => this.show(`phone ${f.errMsg}`) });
  },
  address() {
    wx.chooseAddress({ success: (a) => this.show(`address ${a.cityName} ${a.userName}`), fail: (f) => this.show(`address ${f.errMsg}`) });
  },
  async shareAsync() {
    const reply = await wx.shareAppMessage({ title: 'Hello', path: 'pages/index', surface: 'chat' });
    this.show(`share ${reply.outcome}`);
  },
  async other() {
    const reply = await wx.navigateToMiniProgram({ appId: 'com.taobao.deals', path: 'pages/index' });
    this.show(`mini-program ${reply.outcome}`);
  },
  launchInfo() {
    const o = wx.getLaunchOptionsSync();
    this.show(`scene=${o.scene} path=${o.path} pay=${wx.canIUse('requestPayment')} request=${wx.canIUse('request')}`);
  },
  async pay() {
    const f = await wx.requestPayment({ merchantId: '1900000109', outTradeNo: 'TOUR000001', amount: 100, description: 'tour' }).catch((f) => f);
    this.show(`pay ${f.errMsg} status=${f.result && f.result.status}`);
  },
  redirect() { wx.redirectTo({ url: '/pages/other?from=redirect' }); },
  // A wx.* promise nobody handles: its rejection is the tap's failure.
  nowhere() { wx.navigateTo({ url: '/pages/nowhere' }); },
  unsupported() { wx.showToast({ title: 'hi' }); },
  navigate() { wx.navigateTo({ url: '/pages/other?from=navigate' }); },
});
